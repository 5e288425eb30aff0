"""End-to-end tier: the ways in as their users meet them. The CLI as a process,
the HTTP API and console (in-process and behind a real server), the browser,
the benchmark, and processes killed and started again."""
