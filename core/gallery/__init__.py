"""The gallery: media store, listing, engagement, sharing, moderation and owners' edits."""
