"""`python -m providers.docker_standin [engine flags] <engine address>`."""

from providers.docker_standin.server import serve

if __name__ == "__main__":
    serve()
