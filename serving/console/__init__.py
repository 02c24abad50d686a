"""The platform operator's web console (`/console`): sign-in, sections, pages."""
