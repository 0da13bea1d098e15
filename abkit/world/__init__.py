"""The synthetic world abkit simulates: its vocabulary (categories, personas, promotions) and catalog."""
