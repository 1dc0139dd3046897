"""Image files and the pixels derived from them: decoding and content hashes, thumbnails, the
pixel cache, the heat-map colour scale."""
