"""What tests share besides the harness: databases to run on, the CLI and the
console driven as users drive them, stored events, the real server and browser,
and the worker processes some tests start."""
