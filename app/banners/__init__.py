"""Crowd banners: one banner design, a picture per crowd.

A merchant uploads elements (pictures, fonts), PUTs a banner template — a canvas, layers
(pictures, the shop's product photos, text with variables, shapes) and per-crowd
variants — and the service composes the picture a visitor of a crowd sees. This package
is the pure core of that, with no Redis and no HTTP:

* :mod:`.elements` — what an uploaded file is, by content; refuses bombs and corrupt files
* :mod:`.fonts` — the system CJK font, which characters a font covers
* :mod:`.cutout` — background removal for product photos on a plain background
* :mod:`.template` — the template models, variants and extra output sizes
* :mod:`.validation` — checking a template as a merchant PUTs it, with JSON paths
* :mod:`.wording` — absolute terms the Advertising Law forbids (最, 第一, …)
* :mod:`.text` — variables, line breaking (CJK and Latin) and fitting text in a box
* :mod:`.compose` — drawing the banner, caches, the digest and encoding

Nothing is imported here on purpose: the modules pull in Pillow, numpy, scipy and
fontTools, and a caller should pay only for what it uses.
"""
