"""What `invoke up` runs on one machine: the endpoint server, the API with the real Lambda, the site."""
