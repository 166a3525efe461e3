"""May a checkpoint be loaded and scored? Safetensors parsing, streamed scans, the rules."""
