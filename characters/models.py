"""Characters, reference images and the LoRA registry (grown by the domain-model work)."""
