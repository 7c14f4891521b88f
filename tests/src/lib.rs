//! Test support: the MariaDB sandbox and helpers shared by the integration tests.
