"""Image files and the pixels derived from them: decoding and content hashes, the pixel
cache, the heat-map colour scale (the thumbnail cache is SQLite: :mod:`core.store.thumbnails`)."""
