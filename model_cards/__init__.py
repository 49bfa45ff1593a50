"""Model card templates, installed as the data package `hf_threephase.model_cards`."""
