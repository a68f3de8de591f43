"""Alerting: rules over the server's own metrics, one notification per incident, delivery."""
