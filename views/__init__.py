"""The Streamlit pages, run by `st.navigation` from Home.py (never served directly)."""
