"""The web app and the JSON API. It calls the other packages; they never call it."""
