"""Streamlit helpers shared by the pages: session state, config forms, job status (the engine stays in dqn_sim)."""
