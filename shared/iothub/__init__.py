"""The IoT Hub jobs API: the client (client.py), how it authenticates (auth.py), the hub's error answers
(error_bodies.py). Import the client from client.py: requests is imported there, not here."""
