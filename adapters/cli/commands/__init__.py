"""The CLI's commands, one module per group; ``adapters.cli`` dispatches to them."""
