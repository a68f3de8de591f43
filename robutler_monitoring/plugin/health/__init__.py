"""Health: liveness, readiness and detailed health (application/health+json)."""
