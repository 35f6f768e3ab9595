2•
  ŸØ°…o^«0zj2çØôî~].¨Œ'×Ş—{éíŠØ"üƒ‹Ø(2UPull request #2291 opened with the rounding fix; CI green; session ended by the agent:ıƒ‹Ø