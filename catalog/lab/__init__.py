"""Tools that build what the catalog ships (the demo photo subset); the product never imports them."""
