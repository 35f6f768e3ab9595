*«
  ŸØ°…o^«0zj2çØôî~].¨Œ'×Ş—{é º¼§ä—Çhÿ¥†.ÉÚ'e¯Îé¤7¡š ^Ë"~Û‘[push to protected branch main attempted; outside the authorized scope git.push:branch/fix/* *¡ûŠØ