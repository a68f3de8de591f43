"""Import paths the product docs use (``robutler.utils.logging`` -> ``robutler_monitoring.utils.logging``)."""
