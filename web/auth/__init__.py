"""Browser sign-in and how every web and API request learns who is asking."""
