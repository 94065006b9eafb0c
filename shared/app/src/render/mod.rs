//! Everything Stint renders for people to read: the compliance report (CSV, HTML with its SVG
//! chart, plain text) and the notice emails (text and HTML). Pure functions from domain values
//! to strings; the services deliver them. HTML is written with maud, which escapes every value
//! spliced into markup, so no hand-written escaper exists anywhere.

pub mod notice;
pub mod report;
