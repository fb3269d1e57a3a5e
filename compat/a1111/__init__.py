"""The AUTOMATIC1111 web UI's API (``/sdapi/v1/...``), in its request and answer shapes,
for the tools written against it (SillyTavern, Krita and Photoshop plug-ins, Open WebUI)."""
