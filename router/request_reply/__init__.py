"""Request/reply routes (``kind: request-reply``): ``POST /api/{route}`` answers now.

``kind`` holds the file kind (model and checks, light enough for ``interlock check``);
``service`` runs the routes inside the engine.
"""
