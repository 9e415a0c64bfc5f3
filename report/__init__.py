"""What a run looks like: figures, tables, sentences, colours and words in two languages. Used by the
dashboard and by the command line's HTML output; imports neither Streamlit nor the dashboard."""
