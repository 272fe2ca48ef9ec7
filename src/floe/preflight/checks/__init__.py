"""One module per service kind; each turns a platform block into checks."""
