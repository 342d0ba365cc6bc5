"""The Pulumi program, its typed configuration and the `Pulumi.<stack>.yaml` files."""
