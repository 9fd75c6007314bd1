"""The status page (GET /api/status): every configured hub's recent jobs, for operators."""
