"""absl command-line experiments that bind keras_cheats and loops to data."""
