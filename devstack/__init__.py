"""Local stand-ins for the Azure services the app talks to. The app never imports this package."""
