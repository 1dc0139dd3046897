"""The open project and every label write on it: one owner, one ``labels_changed``."""
