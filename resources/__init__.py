"""Icons, palettes, default settings and stylesheets shipped with labelapp."""
