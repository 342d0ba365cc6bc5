"""Reusable Pulumi ComponentResources. They take typed args and never read config."""
