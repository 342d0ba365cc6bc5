"""Stand-ins for Pulumi provider plugins that cannot be had on a machine."""
