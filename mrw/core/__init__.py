"""Core plumbing: errors, atomic writes, untrusted input, provenance, tokenizer, CLI runner."""
