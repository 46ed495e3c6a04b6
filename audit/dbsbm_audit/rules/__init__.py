"""Rule families, one module each; the catalogue of IDs lives in ``dbsbm_audit.findings``."""
