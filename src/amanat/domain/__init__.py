"""Pure domain model of Amanat: identities, assets, rules, governance actions, money. No I/O."""
