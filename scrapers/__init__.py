"""Flickr dataset collection: search, downloads, manifests, dedupe, review, build-dataset."""
