"""The off-chain store (SQLAlchemy 2): KYC records, documents, users, approvals, audit, indexed chain data."""
