"""Integrations with third-party SDKs, one package each; nothing here is imported unless used."""
