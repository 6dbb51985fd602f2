"""Getting shares out: composing, length rules, destinations, outbox. No Textual."""
