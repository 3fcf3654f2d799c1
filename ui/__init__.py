"""Streamlit glue shared by the pages: the only package besides the pages that imports streamlit."""
