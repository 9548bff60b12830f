"""The `mrw-bench` sub-commands."""
