"""The chain indexer: follows the chain and decodes every Amanat event into the store."""
