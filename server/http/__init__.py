"""HTTP plumbing shared by every blueprint: auth, transactions, error writers."""
