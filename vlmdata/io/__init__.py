"""Input and output: JSONL streaming, the Arrow schema, image header probing, atomic writes."""
