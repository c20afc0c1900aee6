"""Cloud-storage emulators for the tests."""
