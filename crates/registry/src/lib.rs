//! A distribution v2 registry client.
