"""The only layer that speaks JSON-RPC: node management, deployment, signing, nonces, journal."""
